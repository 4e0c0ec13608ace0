"""Weight files: safetensors reading, identification of what a file is, quantised formats (`quant/`), and
loading transformer checkpoints in every layout users have on disk."""
