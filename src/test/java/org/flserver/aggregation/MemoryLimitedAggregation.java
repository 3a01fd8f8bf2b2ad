package org.flserver.aggregation;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The child-JVM side of {@link StreamingFedAvgMemoryTest}: aggregates {@code dir/client*.pt}
 * (weight of client i = i + 1) into {@code dir/out.pt} under whatever {@code -Xmx} it was started with,
 * then prints its peak resident set size.
 */
public final class MemoryLimitedAggregation {

    private MemoryLimitedAggregation() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        List<WeightedFile> clients = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            clients.add(new WeightedFile(dir.resolve("client" + i + ".pt"), i + 1));
        }
        new StreamingFedAvg().aggregate(clients, clients.get(0).path(), dir.resolve("out.pt"));
        System.out.println("maxMemory=" + Runtime.getRuntime().maxMemory());
        Path status = Path.of("/proc/self/status");
        if (Files.isReadable(status)) {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("VmHWM:")) {
                    System.out.println(line.replaceAll("\\s+", " "));
                }
            }
        }
    }
}
