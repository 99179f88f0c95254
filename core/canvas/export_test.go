package canvas

// OnNew calls f with every Host New builds (nil: stop).
func OnNew(f func(*Host)) { newHook = f }
