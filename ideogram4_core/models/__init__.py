"""Model definitions: the Ideogram 4 transformer (both branches), the Qwen3-VL tap encoder and its tokenizer,
the FLUX.2 VAE (with tiling), and the helpers that build modules on `meta` or stream their blocks."""
