package org.flserver.inference;

import jakarta.ejb.Stateless;
import jakarta.inject.Inject;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.util.List;
import java.util.UUID;
import org.flserver.model.GlobalModel;
import org.flserver.model.LocalModel;
import org.flserver.model.MeanModel;
import org.flserver.model.Model;
import org.flserver.model.ModelFiles;
import org.flserver.model.ModelService;
import org.flserver.model.SWAGModel;
import org.flserver.platform.ApiException;
import org.flserver.training.ModelTrainings;
import org.flserver.training.Training;
import org.flserver.training.UncertaintyMethod;

/**
 * Who may run which model how (api.md §10, §15.2): reads, in one transaction, what an inference
 * request needs and decides the uncertainty method from the model's training. The model itself runs
 * outside any transaction ({@link InferenceRunner}).
 */
@Stateless
public class InferenceService {

    /** Upper bound of {@code options.uncertainty.N}: each sample is a forward pass. */
    static final int MAX_SAMPLES = 1000;

    @Inject
    ModelService models;

    @Inject
    ModelTrainings trainings;

    @Inject
    ModelFiles files;

    /**
     * The plan for running {@code modelId} for the caller: 400 for unknown models and models
     * without a training (their uncertainty method is unknown), 403 when the caller may not see it.
     */
    public InferencePlan plan(UUID modelId, UUID callerId) {
        Model model = models.visibleModel(modelId, callerId);
        GlobalModel trained = model instanceof LocalModel local ? local.getBaseModel() : (GlobalModel) model;
        Training training = trainings.trainingOf(trained).orElseThrow(() -> ApiException.badRequest("Model " + modelId
                + " belongs to no training, so its uncertainty method is unknown: create a training on it first."));
        UncertaintyMethod method = training.getUncertaintyMethod();
        JsonObject options = uncertaintyOptions(training.optionsJson());
        int samples = samples(options);
        Long seed = options.get("seed") instanceof JsonNumber n && n.isIntegral() ? n.longValueExact() : null;
        boolean softmax = options.get("softmax") == JsonValue.TRUE;
        ModuleFile preprocessing = trained.getPreprocessingSha256() == null ? null
                : module(trained.getPreprocessingSha256());

        if (model instanceof MeanModel mean) {
            // an ensemble: its members are run whatever the training says (it has no weights itself)
            List<ModuleFile> members = mean.getMembers().stream().map(m -> module(m.getWeightsSha256())).toList();
            return new InferencePlan(members, preprocessing, trained.getInputShape(), UncertaintyMethod.ENSEMBLE.name(),
                    samples, seed, softmax, null, null);
        }
        if (method == UncertaintyMethod.ENSEMBLE) {
            throw ApiException.badRequest("The training of model " + modelId + " uses ENSEMBLE uncertainty, which needs"
                    + " a mean model (an ensemble): run inference on the training's mean model.");
        }
        String first = null;
        String second = null;
        if (method == UncertaintyMethod.SWAG) {
            if (!(trained instanceof SWAGModel swag) || swag.getSwagFirstMomentSha256() == null
                    || swag.getSwagSecondMomentSha256() == null) {
                throw ApiException.badRequest("Model " + modelId + " has no SWAG moments yet: they exist after the"
                        + " first SWAG round of its training.");
            }
            first = swag.getSwagFirstMomentSha256();
            second = swag.getSwagSecondMomentSha256();
        }
        return new InferencePlan(List.of(module(model.getWeightsSha256())), preprocessing, trained.getInputShape(),
                method.name(), samples, seed, softmax, first, second);
    }

    private ModuleFile module(String sha256) {
        if (sha256 == null || !files.exists(sha256)) {
            throw ApiException.detail(500, "A model file is missing on the server.");
        }
        return new ModuleFile(sha256, files.path(sha256));
    }

    private static JsonObject uncertaintyOptions(JsonObject options) {
        return options.get("uncertainty") instanceof JsonObject u ? u : JsonValue.EMPTY_JSON_OBJECT;
    }

    private static int samples(JsonObject options) {
        JsonValue n = options.get("N");
        if (n == null) {
            return 10;
        }
        if (!(n instanceof JsonNumber number) || !number.isIntegral() || number.longValue() < 1
                || number.longValue() > MAX_SAMPLES) {
            throw ApiException.badRequest("options.uncertainty.N of the training must be an integer from 1 to "
                    + MAX_SAMPLES + ".");
        }
        return number.intValue();
    }
}
