"""Model cost: parameters, multiply-accumulates (MACs) and weight memory.

:func:`count_macs` walks a built Keras model layer by layer and counts the
multiply-accumulates of one forward pass for **one example** from each layer's input and
output shapes.  Counted: ``Conv1D/2D/3D`` (incl. grouped), ``DepthwiseConv1D/2D``,
``SeparableConv1D/2D``, ``Dense`` (on any rank), ``EinsumDense``, ``SimpleRNN``/``LSTM``/``GRU``
(per time step: ``gates * (in * units + units * units)``), ``Bidirectional``,
``TimeDistributed``, ``MultiHeadAttention`` and nested models; a layer may also define
``count_macs(input_shape, output_shape)`` (see :mod:`auricle.models.layers`).
Bias additions, normalization (foldable into the preceding layer), activations, pooling and
element-wise merges are *not* counted: they are O(activations), not O(weights x positions).
Convolutions are counted at every output position, padded borders included, which is the
usual convention (TC-ResNet, DS-CNN "Hello Edge" report ``ops ~= 2 x MACs``).
"""
from __future__ import annotations

from math import prod


def _shape(x):
    """Per-example shape (batch axis dropped) of a tensor / shape tuple, or a list of them."""
    if isinstance(x, (list, tuple)) and x and not isinstance(x[0], (int, type(None))):
        return [_shape(t) for t in x]
    s = tuple(getattr(x, "shape", x))
    return tuple(0 if d is None else int(d) for d in s[1:])


def _calls(layer):
    """``[(input_shape, output_shape), ...]`` for each time the layer was called in its model."""
    nodes = getattr(layer, "_inbound_nodes", None) or []
    out = []
    for node in nodes:
        ins = list(getattr(node, "input_tensors", []) or [])
        outs = list(getattr(node, "output_tensors", []) or [])
        if not ins or not outs:
            continue
        out.append((_shape(ins[0]) if len(ins) == 1 else _shape(ins),
                    _shape(outs[0]) if len(outs) == 1 else _shape(outs)))
    if not out:
        try:
            out.append((_shape(layer.input), _shape(layer.output)))
        except (AttributeError, ValueError):
            pass
    return out


def _channels(shape, data_format):
    return shape[0] if data_format == "channels_first" else shape[-1]


def _spatial(shape, data_format):
    return shape[1:] if data_format == "channels_first" else shape[:-1]


def _rnn_macs(layer, in_shape, out_shape) -> int:
    from keras import layers

    gates = {layers.LSTM: 4, layers.GRU: 3, layers.SimpleRNN: 1}
    g = next((v for k, v in gates.items() if isinstance(layer, k)), None)
    if g is None:  # a generic keras.layers.RNN(cell): count the cell's kernels if we can
        cell = getattr(layer, "cell", None)
        units = getattr(cell, "units", None)
        if units is None:
            return 0
        g = {layers.LSTMCell: 4, layers.GRUCell: 3}.get(type(cell), 1)
    else:
        units = layer.units
    steps, n_in = in_shape[0], in_shape[-1]
    return steps * g * (n_in * units + units * units)


def _einsum_macs(equation: str, in_shape, kernel_shape) -> int:
    """Product of the sizes of every index in an ``"x,k->y"`` equation (batch index = 1)."""
    lhs, _ = equation.replace(" ", "").split("->")
    a, b = lhs.split(",")
    sizes = {}
    full = (1, *in_shape)
    if "..." in a:
        pre, post = a.split("...")
        n_ell = len(full) - len(pre) - len(post)
        sizes["..."] = prod(full[len(pre):len(pre) + n_ell])
        a = pre + post
        full = full[:len(pre)] + full[len(pre) + n_ell:]
    for letter, d in zip(a, full):
        sizes[letter] = d
    for letter, d in zip(b, kernel_shape):
        sizes.setdefault(letter, d)
    return int(prod(sizes.values()))


def layer_macs(layer, in_shape, out_shape) -> int:
    """MACs of one call of ``layer`` for one example, given per-example in/out shapes."""
    import keras
    from keras import layers

    hook = getattr(layer, "count_macs", None)
    if callable(hook) and not isinstance(layer, keras.Model):
        return int(hook(in_shape, out_shape))
    if isinstance(layer, keras.Model):
        return count_macs(layer)
    if isinstance(layer, layers.Bidirectional):
        sub_out = out_shape[0] if isinstance(out_shape, list) else out_shape
        return (layer_macs(layer.forward_layer, in_shape, sub_out)
                + layer_macs(layer.backward_layer, in_shape, sub_out))
    if isinstance(layer, layers.TimeDistributed):
        return in_shape[0] * layer_macs(layer.layer, in_shape[1:], out_shape[1:])
    if isinstance(layer, layers.RNN):  # LSTM, GRU, SimpleRNN subclass RNN in Keras 3
        return _rnn_macs(layer, in_shape, out_shape)
    fmt = getattr(layer, "data_format", "channels_last")
    if isinstance(layer, (layers.SeparableConv1D, layers.SeparableConv2D)):
        c_in = _channels(in_shape, fmt)
        pos = prod(_spatial(out_shape, fmt))
        k = prod(layer.kernel_size)
        mid = c_in * layer.depth_multiplier
        return pos * mid * k + pos * mid * layer.filters
    if isinstance(layer, (layers.DepthwiseConv1D, layers.DepthwiseConv2D)):
        return prod(_spatial(out_shape, fmt)) * _channels(out_shape, fmt) * prod(layer.kernel_size)
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)):
        c_in = _channels(in_shape, fmt)
        groups = getattr(layer, "groups", 1) or 1
        return prod(_spatial(out_shape, fmt)) * layer.filters * prod(layer.kernel_size) * c_in // groups
    if isinstance(layer, layers.Dense):
        return prod(out_shape[:-1]) * in_shape[-1] * layer.units
    if isinstance(layer, layers.EinsumDense):
        return _einsum_macs(layer.equation, in_shape, tuple(int(d) for d in layer.kernel.shape))
    if isinstance(layer, layers.MultiHeadAttention):
        q_shape = in_shape[0] if isinstance(in_shape, list) else in_shape
        v_shape = in_shape[1] if isinstance(in_shape, list) and len(in_shape) > 1 else q_shape
        tq, dq = prod(q_shape[:-1]), q_shape[-1]
        tv, dv = prod(v_shape[:-1]), v_shape[-1]
        h, kd = layer.num_heads, layer.key_dim
        vd = layer.value_dim or kd
        d_out = out_shape[-1] if not isinstance(out_shape, list) else out_shape[0][-1]
        return (tq * dq * h * kd + tv * dv * h * kd + tv * dv * h * vd  # projections
                + h * tq * tv * (kd + vd)  # scores and weighted sum
                + tq * h * vd * d_out)  # output projection
    return 0


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass of ``model`` for a single example.

    Parameters
    ----------
    model : keras.Model
        A built functional or sequential model (shapes must be static except the batch).

    Returns
    -------
    int
        Sum over layers and over each call of a layer (shared layers count every call).

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((10, 3)), keras.layers.Conv1D(4, 3),
    ...                       keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> count_macs(m)  # conv: 8 positions * 4 filters * 3 taps * 3 channels; dense: 32 * 2
    352
    """
    total = 0
    for layer in model.layers:
        for in_shape, out_shape in _calls(layer):
            total += layer_macs(layer, in_shape, out_shape)
    return int(total)


def model_profile(model) -> dict:
    """Size and cost summary of ``model``.

    Returns
    -------
    dict
        ``params`` (all weights, BatchNorm moving statistics included, as
        ``model.count_params()``), ``trainable_params``, ``macs`` (:func:`count_macs`, one
        example), ``kb_float32`` (``params * 4 / 1024``) and ``kb_int8`` (``params / 1024``:
        one byte per weight; an int8 deployment with BatchNorm folded is somewhat smaller).
    """
    params = int(model.count_params())
    trainable = int(sum(prod(int(d) for d in w.shape) for w in model.trainable_weights))
    return {"params": params, "trainable_params": trainable, "macs": count_macs(model),
            "kb_float32": params * 4 / 1024, "kb_int8": params / 1024}
