package org.flserver.training;

import jakarta.persistence.AttributeConverter;
import jakarta.persistence.Converter;

/**
 * Stores the training enums as the seed's values ({@code I}, {@code FedAvg}, {@code MC_DROPOUT}, ...)
 * rather than JPA's ordinal or constant name, so the rows read the same as the reference system's.
 */
final class TrainingConverters {

    private TrainingConverters() {
    }

    @Converter
    public static class StateConverter implements AttributeConverter<TrainingState, String> {
        @Override
        public String convertToDatabaseColumn(TrainingState state) {
            return state == null ? null : state.value();
        }

        @Override
        public TrainingState convertToEntityAttribute(String value) {
            return value == null ? null : TrainingState.fromValue(value.trim());
        }
    }

    @Converter
    public static class AggregationConverter implements AttributeConverter<AggregationMethod, String> {
        @Override
        public String convertToDatabaseColumn(AggregationMethod method) {
            return method == null ? null : method.value();
        }

        @Override
        public AggregationMethod convertToEntityAttribute(String value) {
            return value == null ? null : AggregationMethod.fromValue(value);
        }
    }

    @Converter
    public static class UncertaintyConverter implements AttributeConverter<UncertaintyMethod, String> {
        @Override
        public String convertToDatabaseColumn(UncertaintyMethod method) {
            return method == null ? null : method.value();
        }

        @Override
        public UncertaintyMethod convertToEntityAttribute(String value) {
            return value == null ? null : UncertaintyMethod.fromValue(value);
        }
    }
}
