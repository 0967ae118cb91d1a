"""HTTP plumbing; imports core/ and dialects/ (for header parsing): transport, retries, streaming download."""
