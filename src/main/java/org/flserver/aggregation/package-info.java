/**
 * Streaming FedAvg over weight files, its float32 kernels (scalar and Vector API) and {@code TensorTool}
 * (command line). Plain Java: imports only the JDK and {@code tensor}.
 */
package org.flserver.aggregation;
