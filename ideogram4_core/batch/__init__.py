"""Batch rendering: resumable jobs with a manifest, in this process or on a Ray cluster.

- `jobs`: read JSONL / CSV / a folder of captions into `Job`s (and input problems by line).
- `worker`: one model replica; encodes, samples and decodes lists of images in stages.
- `manifest`: atomic writes and `manifest.jsonl` (one row per image).
- `runner`: plans a run (skips done and identical images), writes files and rows; `local_backend`.
- `ray_runner`: the Ray backend (one actor per GPU, retries of dead workers' chunks).
- `fingerprint`, `progress`: model header hashes for the manifest; the progress bar.
"""
