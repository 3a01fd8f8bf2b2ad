package org.flserver.inference.djl;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.flserver.inference.InferenceException;
import org.junit.jupiter.api.Test;

/** What {@link CodeCheck} lets through of TorchScript's serialized code, and what not. */
class CodeCheckTest {

    @Test
    void tensorCodeOfScriptedTracedAndQuantizedModulesPasses() {
        assertDoesNotThrow(() -> CodeCheck.checkSource("code/__torch__.py", """
                def forward(self, x: Tensor, mc: bool=False) -> Tensor:
                  _0 = __torch__.torch.nn.functional.dropout(x, 0.3, mc, False, )
                  _1 = ops.prim.NumToTensor(torch.size(x, 0))
                  _2 = ops.quantized.linear(x, self.packed, 1., 0)
                  return torch.add(torch.linear(_0, self.weight), ops.aten.relu(_1))
                """));
    }

    @Test
    void fileOperatorsForeignNamespacesAndCustomClassesAreRefused() {
        for (String code : new String[] {
                "  _0 = torch.from_file(\"/etc/passwd\", False, 10, dtype=0)",
                "  _0 = ops.aten.from_file(\"/etc/passwd\")",
                "  torch.save(x, \"/tmp/x.pt\")",
                "  _0 = ops.c10d.allreduce_([x], pg, op, None, 0)",
                "  _0 = ops.my_library.run(x)",
                "  p : __torch__.torch.classes.dist_c10d.ProcessGroup",
                "  _0 = torch.classes.my.Thing()"}) {
            InferenceException e = assertThrows(InferenceException.class,
                    () -> CodeCheck.checkSource("code/__torch__.py", code), code);
            assertEquals(400, e.status());
            assertTrue(e.getMessage().startsWith("this TorchScript model is refused: code/__torch__.py "), e.getMessage());
        }
    }
}
