/**
 * The convolutions SAM needs, written as matrix products.
 *
 * tfjs's wasm backend has no `Conv2DBackpropFilter`, so a trainable `tf.conv2d` or
 * `tf.conv2dTranspose` fails there. SAM's convolutions are all special cases that are exactly a
 * matrix product plus a rearrangement (a non-overlapping patch conv, a 1x1 conv, a 3x3 conv as
 * nine shifted copies, a kernel-2 stride-2 transposed conv), and in that form every backend can
 * compute their gradients. Tensors are channel-last: `[B, H, W, C]`.
 *
 * @module
 */
import { type Tensor, type Tensor4D, tf } from "../backend/tf.ts";
import { matMul } from "./matmul.ts";

/**
 * A convolution whose kernel equals its stride (SAM's 16x16 patch embedding). `weight` is
 * PyTorch's `[outChannels, inChannels, patch, patch]`.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const y = patchConv(tf.ones([1, 32, 32, 3]), tf.ones([8, 3, 16, 16]), tf.zeros([8]));
 * y.shape; // [1, 2, 2, 8]
 * ```
 */
export function patchConv(x: Tensor4D, weight: Tensor, bias: Tensor): Tensor4D {
  return tf.tidy(() => {
    const [batch, height, width, channels] = x.shape;
    const [outChannels, , patch] = weight.shape as [number, number, number, number];
    const rows = height / patch;
    const cols = width / patch;
    // [B, rows, patch, cols, patch, C] -> [B, rows, cols, C, patch, patch]: the flattening order
    // of PyTorch's [out, C, kH, kW] weight.
    const patches = x.reshape([batch, rows, patch, cols, patch, channels])
      .transpose([0, 1, 3, 5, 2, 4])
      .reshape([batch * rows * cols, channels * patch * patch]);
    const flatWeight = weight.reshape([outChannels, channels * patch * patch]);
    const y = tf.add(matMul(patches, flatWeight, false, true), bias); // [B*rows*cols, out]
    return y.reshape([batch, rows, cols, outChannels]) as Tensor4D;
  });
}

/**
 * A 1x1 convolution without bias; `weight` is `[out, in, 1, 1]`.
 */
export function pointwiseConv(x: Tensor4D, weight: Tensor): Tensor4D {
  return tf.tidy(() => {
    const [batch, height, width, channels] = x.shape;
    const outChannels = weight.shape[0]!;
    const y = matMul(
      x.reshape([-1, channels]),
      weight.reshape([outChannels, channels]),
      false,
      true,
    );
    return y.reshape([batch, height, width, outChannels]) as Tensor4D;
  });
}

/**
 * A 3x3 convolution with zero padding 1 and no bias (SAM's neck); `weight` is `[out, in, 3, 3]`.
 * Built from the nine shifted copies of the padded input (im2col) and one matrix product.
 */
export function conv3x3(x: Tensor4D, weight: Tensor): Tensor4D {
  return tf.tidy(() => {
    const [batch, height, width, channels] = x.shape;
    const outChannels = weight.shape[0]!;
    const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const shifted: Tensor[] = [];
    for (let dy = 0; dy < 3; dy++) {
      for (let dx = 0; dx < 3; dx++) {
        shifted.push(tf.slice(padded, [0, dy, dx, 0], [batch, height, width, channels]));
      }
    }
    // [B, H, W, 9, C]: tap-major, matching the weight's [out, kH, kW, in] arrangement below.
    const columns = tf.stack(shifted, 3).reshape([-1, 9 * channels]);
    const flatWeight = weight.transpose([0, 2, 3, 1]).reshape([outChannels, 9 * channels]);
    const y = matMul(columns, flatWeight, false, true);
    return y.reshape([batch, height, width, outChannels]) as Tensor4D;
  });
}

/**
 * A transposed convolution with kernel 2 and stride 2 (SAM's mask upscaling). `weight` is
 * PyTorch's ConvTranspose2d layout `[in, out, 2, 2]`. Each input pixel writes its own 2x2 output
 * block, so this is a matrix product followed by a depth-to-space rearrangement.
 */
export function upConv2x2(x: Tensor4D, weight: Tensor, bias: Tensor): Tensor4D {
  return tf.tidy(() => {
    const [batch, height, width, channels] = x.shape;
    const outChannels = weight.shape[1]!;
    const flatWeight = weight.transpose([0, 2, 3, 1]).reshape([channels, 4 * outChannels]);
    const blocks = matMul(x.reshape([-1, channels]), flatWeight); // [B*H*W, (dy, dx, out)]
    const y = blocks.reshape([batch, height, width, 2, 2, outChannels])
      .transpose([0, 1, 3, 2, 4, 5]) // [B, H, dy, W, dx, out]
      .reshape([batch, 2 * height, 2 * width, outChannels]);
    return tf.add(y, bias) as Tensor4D;
  });
}
