package org.flserver.round;

import java.util.UUID;

/**
 * One input of an aggregation job, read in the job's claiming transaction so that the aggregation
 * itself runs without a transaction: the update (a local model or SWAG statistics), its owner, the
 * round it was made for, its sample size (the FedAvg weight) and its file(s).
 *
 * @param sha256       the local model's weights, or the first moment of SWAG statistics
 * @param secondSha256 the second moment of SWAG statistics, null for local models
 */
public record JobInput(UUID updateId, UUID ownerId, String ownerUsername, int round, int sampleSize,
                       String sha256, String secondSha256) {
}
