package org.flserver.inference.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The inference workers' memory budget: their address-space limits together never exceed it. */
class WorkerMemoryBudgetTest {

    @Test
    void theWorkersAreLoweredUntilTheirLimitsFitTheBudget() {
        assertEquals(2, InferenceSandbox.workersWithinBudget(8, 6144, 17408));
        assertEquals(2, InferenceSandbox.workersWithinBudget(8, 6144, 2 * 6144 + 6143));
        assertEquals(8, InferenceSandbox.workersWithinBudget(8, 3072, 8 * 3072));
        assertEquals(7, InferenceSandbox.workersWithinBudget(8, 3072, 8 * 3072 - 1));
    }

    @Test
    void aBudgetBeyondTheConfiguredMaximumChangesNothing() {
        assertEquals(8, InferenceSandbox.workersWithinBudget(8, 6144, Long.MAX_VALUE));
        assertEquals(3, InferenceSandbox.workersWithinBudget(3, 512, 1 << 20));
    }

    @Test
    void oneWorkerIsKeptEvenWhenNotEvenOneFits() {
        // inference must still run at all; the operator is warned at start-up
        assertEquals(1, InferenceSandbox.workersWithinBudget(8, 6144, 4096));
        assertEquals(1, InferenceSandbox.workersWithinBudget(8, 6144, 0));
    }

    @Test
    void theDefaultBudgetIsThePhysicalMemoryLessTheHeapAndOneGibibyte() throws Exception {
        long budget = InferenceSandbox.defaultMemoryBudgetMb();
        // /proc/meminfo's MemTotal is the machine's memory; the JVM sees at most that (less in a
        // container with a memory limit)
        long memTotalMb = Files.readAllLines(Path.of("/proc/meminfo")).stream()
                .filter(l -> l.startsWith("MemTotal:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) >> 10)
                .findFirst().orElseThrow();
        long heapMb = Runtime.getRuntime().maxMemory() >> 20;
        assertTrue(budget > 0, "the test machine has more than a heap and 1 GiB: " + budget);
        assertTrue(budget <= memTotalMb - heapMb - 1024 + 1,
                budget + " MiB, MemTotal " + memTotalMb + " MiB, heap " + heapMb + " MiB");
    }
}
