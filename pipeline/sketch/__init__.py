"""Sketch search: draw a garment (black outline, colour paint) and find it (docs/sketch.md).

    canvas      reading a drawing: outline pixels vs paint pixels
    strokes     the line normal form shared by edge maps and drawings
    features    edge-domain vectors; the sketch index beside the photo index
    build       adding sketch vectors at ingest or afterwards (resumable)
    search      drawing → results (+ colourised photo, fused)
    pseudo      pseudo-sketches from photos (benchmark, training, examples)
    colourise   the Pix2Pix colouriser; train: its training loop
Heavy imports (torch, TensorFlow) happen inside the functions that need them.
"""
