package org.flserver.inference;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Remembers what {@link TorchScriptArchiveCheck#requireTorchScript} said of a module file, by its
 * SHA-256: files in the model store are content-addressed and never change, and reading an
 * archive's tables and code costs milliseconds that every inference request would otherwise pay.
 * Refusals are remembered too, so that a refused file costs nothing the second time. Bounded, least
 * recently used first out.
 */
final class CheckedModules {

    /** A verdict: null for a file that passed, else its refusal. */
    private final Map<String, InferenceException> verdicts;

    CheckedModules(int maxEntries) {
        this.verdicts = new LinkedHashMap<>(64, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, InferenceException> eldest) {
                return size() > maxEntries;
            }
        };
    }

    /** Passes when the file with this hash passed the check (now or before); else its refusal. */
    void require(String sha256, Path file) throws InferenceException {
        InferenceException verdict;
        boolean known;
        synchronized (verdicts) {
            known = verdicts.containsKey(sha256);
            verdict = verdicts.get(sha256);
        }
        if (!known) {
            try {
                TorchScriptArchiveCheck.requireTorchScript(file);
                verdict = null;
            } catch (InferenceException e) {
                if (e.status() >= 500) {
                    throw e; // the file could not be read: no verdict on its content
                }
                verdict = e;
            }
            synchronized (verdicts) {
                verdicts.put(sha256, verdict);
            }
        }
        if (verdict != null) {
            throw new InferenceException(verdict.status(), verdict.getMessage());
        }
    }
}
