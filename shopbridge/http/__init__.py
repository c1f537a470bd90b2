"""HTTP plumbing shared by every channel: client factory, request log, retries, limiter, paging."""
