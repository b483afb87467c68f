from invokeai.app.services.events.events_common import EventBase, EventServiceBase


class TestEventService(EventServiceBase):
    __test__ = False

    def __init__(self) -> None:
        super().__init__()
        self.events: list[EventBase] = []

    def dispatch(self, event: EventBase) -> None:
        self.events.append(event)
