"""Stand-in for InvokeAI's SSRF helper: the exception the public tests name."""


class UnsafeDownloadURLException(ValueError):
    pass
