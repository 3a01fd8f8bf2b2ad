/**
 * Streaming aggregation over weight files: FedAvg and its float32 kernels (scalar and Vector API),
 * the robust rules (median, trimmed mean, Krum, Multi-Krum), central DP-FedAvg with its RDP
 * accountant, the server-side optimizers, and {@code TensorTool} (command line). Plain Java: imports
 * only the JDK and {@code tensor}.
 */
package org.flserver.aggregation;
