/**
 * Reading and writing weight files (PyTorch, safetensors) without executing them: tensor and storage
 * tables, the architecture fingerprint, the template rewrite. Plain Java: imports only the JDK and its
 * own sub-packages, no Jakarta EE, no third-party library.
 */
package org.flserver.tensor;
