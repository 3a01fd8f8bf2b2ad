/**
 * PyTorch files: the ZIP directory, the symbolic pickle interpreter and its allow-list, the archive
 * reader, the {@code torch.save} writer. Part of {@code tensor}: the JDK and {@code tensor} only.
 */
package org.flserver.tensor.pytorch;
