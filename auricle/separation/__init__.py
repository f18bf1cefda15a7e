"""Source separation: split a mixture into its stems with a Spleeter-style U-Net.

It sits beside classification and reuses its audio I/O, run directories, reports, export and CLI.

Modules, in data-flow order
---------------------------
presets.py   named configurations (``2stems``, ``4stems``, ``5stems``, ``-16kHz`` and small CPU variants)
stems.py     stems datasets (folder per song, MUSDB18-style, CSV manifest), song-disjoint splits,
             a memory-mapped cache and the random-chunk sampler that remixes stems across songs
demo.py      the built-in demo songs, rendered per instrument from generated MIDI with fluidsynth
stft.py      STFT / inverse STFT (perfect reconstruction), batched numpy
unet.py      the U-Net mask networks and their registry (Keras 3, ``keras.layers``/``keras.ops``)
masks.py     ratio masks and multichannel Wiener filtering that turn masks into stems
separate.py  chunked, overlap-added separation of a file of any length (Keras or an export)
metrics.py   SDR / SIR / SAR (BSS Eval v4, equal to museval), baselines, tables and pictures
training.py  config -> fit -> run directory (curves, report, spectrogram pictures)
"""
