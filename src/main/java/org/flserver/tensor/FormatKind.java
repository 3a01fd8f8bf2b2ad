package org.flserver.tensor;

/**
 * What kind of weight file was read. The kind decides which files may be averaged together:
 * the output reuses the template's bytes, so every client must have been written the same way.
 */
public enum FormatKind {
    /** {@code torch.save(model.state_dict())}. */
    STATE_DICT("torch.save", "state_dict"),
    /** {@code torch.save(model)}: a pickled {@code nn.Module}. */
    MODULE("torch.save", "module"),
    /** {@code torch.jit.save(scripted)}. */
    TORCHSCRIPT("torchscript", "torchscript"),
    /** A safetensors file. */
    SAFETENSORS("safetensors", "safetensors"),
    /**
     * {@code torch.save(tensor)}: one bare tensor, not a model. Readable so that SWAG moment
     * vectors (api.md §5.8) can be checked; never accepted where a model is expected.
     */
    TENSOR("torch.save", "tensor");

    private final String format;
    private final String label;

    FormatKind(String format, String label) {
        this.format = format;
        this.label = label;
    }

    /** The container format as the fixtures' manifests name it: torch.save, torchscript, safetensors. */
    public String format() {
        return format;
    }

    /** A short name for messages and the command line: state_dict, module, torchscript, safetensors. */
    public String label() {
        return label;
    }
}
