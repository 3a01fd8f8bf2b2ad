package org.flserver.web;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;
import org.flserver.model.GlobalModel;
import org.flserver.training.AggregationMethod;
import org.flserver.training.Training;
import org.flserver.training.TrainingState;
import org.flserver.user.User;
import org.junit.jupiter.api.Test;

/** The sort columns of the admin trainings list: orders, direction, ties, and unknown names. */
class TrainingSortTest {

    private final User owner = new User("owner", "x", "0".repeat(40));

    @Test
    void sortsByTheColumnInBothDirections() {
        TrainingRow ongoing = row("b-model", TrainingState.ONGOING, 5, AggregationMethod.FED_PROX);
        TrainingRow completed = row("a-model", TrainingState.COMPLETED, 12, AggregationMethod.FED_AVG);
        TrainingRow initial = row("C-model", TrainingState.INITIAL, 1, AggregationMethod.FED_DC);
        List<TrainingRow> rows = List.of(ongoing, completed, initial);

        assertEquals(List.of(completed, initial, ongoing), sorted(rows, TrainingSort.STATE, true));
        assertEquals(List.of(ongoing, initial, completed), sorted(rows, TrainingSort.STATE, false));
        assertEquals(List.of(initial, ongoing, completed), sorted(rows, TrainingSort.TARGET, true));
        assertEquals(List.of(completed, initial, ongoing), sorted(rows, TrainingSort.AGGREGATION, true));
        // names ignore case: a, b, C
        assertEquals(List.of(completed, ongoing, initial), sorted(rows, TrainingSort.MODEL, true));
    }

    @Test
    void equalValuesAreOrderedByIdSoTheOrderIsStable() {
        List<TrainingRow> rows = List.of(row("m", TrainingState.INITIAL, 3, AggregationMethod.FED_AVG),
                row("m", TrainingState.INITIAL, 3, AggregationMethod.FED_AVG),
                row("m", TrainingState.INITIAL, 3, AggregationMethod.FED_AVG));
        Function<List<TrainingRow>, List<String>> ids = l -> l.stream().map(r -> r.getId().toString()).toList();
        List<String> ascending = ids.apply(sorted(rows, TrainingSort.TARGET, true));
        assertEquals(ascending.stream().sorted().toList(), ascending);
        List<String> descending = new ArrayList<>(ascending);
        Collections.reverse(descending);
        assertEquals(descending, ids.apply(sorted(rows, TrainingSort.TARGET, false)));
        List<TrainingRow> otherInput = new ArrayList<>(rows);
        Collections.reverse(otherInput);
        assertEquals(ascending, ids.apply(sorted(otherInput, TrainingSort.TARGET, true)));
    }

    @Test
    void onlyKnownColumnNamesAreAccepted() {
        assertEquals(TrainingSort.STATE, TrainingSort.fromParameter("state"));
        assertEquals(TrainingSort.LAST_UPDATE, TrainingSort.fromParameter("updated"));
        assertEquals(TrainingSort.DEFAULT, TrainingSort.fromParameter("t.state; DROP TABLE training"));
        assertEquals(TrainingSort.DEFAULT, TrainingSort.fromParameter(null));
    }

    private TrainingRow row(String modelName, TrainingState state, int target, AggregationMethod aggregation) {
        Training t = new Training(new GlobalModel(owner, 0, modelName, ""), owner, target);
        t.setState(state);
        t.setAggregationMethod(aggregation);
        t.touch();
        return new TrainingRow(t);
    }

    private static List<TrainingRow> sorted(List<TrainingRow> rows, TrainingSort column, boolean ascending) {
        return rows.stream().sorted(column.comparator(ascending)).toList();
    }
}
