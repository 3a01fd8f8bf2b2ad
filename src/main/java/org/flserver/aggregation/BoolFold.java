package org.flserver.aggregation;

import org.flserver.tensor.StorageInfo;
import org.flserver.tensor.TemplateRewrite;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Bool storages: true where any client with a weight above zero is true. */
final class BoolFold extends FoldKernel {

    private final byte[] any;
    private final byte[] x;

    BoolFold(FedAvgPlan plan, ClientSlices slices, TemplateRewrite rewrite) {
        super(plan, slices, rewrite);
        any = new byte[block];
        x = new byte[block];
    }

    @Override
    int unit(StorageInfo target, int s, long start, int n) throws IOException {
        for (int c = 0; c < plan.files.size(); c++) {
            ByteBuffer in = slices.read(c, s, start, n, 1);
            boolean counts = plan.weights[c] > 0;
            boolean first = c == 0;
            in.get(x, 0, n);
            for (int j = 0; j < n; j++) {
                any[j] = (byte) ((first ? 0 : any[j]) | (counts && x[j] != 0 ? 1 : 0));
            }
        }
        out.clear().order(target.byteOrder());
        out.put(any, 0, n);
        return writeBlock(target, start);
    }
}
