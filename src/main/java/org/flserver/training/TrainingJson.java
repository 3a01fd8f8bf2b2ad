package org.flserver.training;

import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import org.flserver.platform.Jsonp;
import org.flserver.user.User;

/** The API's training JSON (api.md §6.1), built explicitly so the keys are exactly the reference's. */
public final class TrainingJson {

    private TrainingJson() {
    }

    /** The plain training, as listed by {@code GET /trainings/} and {@code GET /users/trainings/}. */
    public static JsonObject training(Training training) {
        return base(training).build();
    }

    /** Trainings as a JSON array: {@code GET /trainings/} and {@code GET /users/trainings/}. */
    public static JsonArray trainings(List<Training> trainings) {
        JsonArrayBuilder out = Jsonp.createArrayBuilder();
        trainings.forEach(t -> out.add(training(t)));
        return out.build();
    }

    /** {@code GET /trainings/<id>/}: the training plus the progress of its current round. */
    public static JsonObject detail(TrainingService.TrainingDetail detail) {
        JsonObjectBuilder out = base(detail.training())
                .add("local_models_arrived", detail.localModelsArrived())
                .add("local_models_expected", detail.localModelsExpected());
        if (detail.roundOptions()) {
            // additive fields of trainings with round options (api.md §6.6); others answer as before
            JsonArrayBuilder expected = Jsonp.createArrayBuilder();
            detail.expectedParticipants().forEach(id -> expected.add(id.toString()));
            if (detail.roundDeadline() == null) {
                out.addNull("round_deadline");
            } else {
                out.add("round_deadline", iso(detail.roundDeadline()));
            }
            out.add("expected_participants", expected);
        }
        return out.build();
    }

    private static JsonObjectBuilder base(Training training) {
        JsonArrayBuilder participants = Jsonp.createArrayBuilder();
        for (User user : training.getParticipants()) {
            participants.add(user.getId().toString());
        }
        return Jsonp.createObjectBuilder()
                .add("id", training.getId().toString())
                .add("state", training.getState().value())
                .add("target_num_updates", training.getTargetNumUpdates())
                .add("last_update", lastUpdate(training))
                .add("uncertainty_method", training.getUncertaintyMethod().value())
                .add("aggregation_method", training.getAggregationMethod().value())
                .add("options", training.optionsJson())
                .add("locked", training.isLocked())
                .add("model", training.getModel().getId().toString())
                .add("actor", training.getActor().getId().toString())
                .add("participants", participants);
    }

    /**
     * ISO-8601 with the offset of the server's time zone, as Django renders {@code auto_now}
     * fields; the formatter always writes the seconds, which {@code OffsetDateTime.toString()}
     * leaves out when they are zero.
     */
    private static String lastUpdate(Training training) {
        return iso(training.getLastUpdate());
    }

    private static String iso(OffsetDateTime time) {
        return time.atZoneSameInstant(ZoneId.systemDefault()).toOffsetDateTime()
                .format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
    }
}
