"""fetchq's desktop app (PySide6 + qasync), built on the fetchq core queue."""
