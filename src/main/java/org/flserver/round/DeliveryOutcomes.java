package org.flserver.round;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.flserver.notification.DeliveryFailed;
import org.flserver.notification.DeliveryRejected;

/**
 * What a failed notification means for a training (api.md §8.3, §15.8), decided here and not in
 * the notification package (design.md §3): a rejection removes the participant, an unreachable
 * participant puts the training into E. The events arrive inside the dispatcher's transaction, so
 * the consequence commits together with the recorded delivery outcome.
 */
@ApplicationScoped
public class DeliveryOutcomes {

    @Inject
    RoundEngine engine;

    void rejected(@Observes DeliveryRejected event) {
        engine.receiverRejected(event.trainingId(), event.receiverId());
    }

    void failed(@Observes DeliveryFailed event) {
        engine.receiverUnreachable(event.trainingId(), event.receiverId(), event.reason());
    }
}
