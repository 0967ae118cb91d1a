"""HTTP plumbing; imports core/ and dialects/ (for header parsing): transport (session and
send loop), outcome (what an attempt came to), response, failures, form, retry, download."""
