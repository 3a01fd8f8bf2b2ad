/**
 * safetensors files: reader, writer and their minimal JSON. Part of {@code tensor}: the JDK and
 * {@code tensor} only.
 */
package org.flserver.tensor.safetensors;
