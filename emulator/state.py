class EmulatorState:
    def reset(self) -> None:
        pass


state = EmulatorState()
