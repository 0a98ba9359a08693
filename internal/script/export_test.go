package script

// Probes returns the commands Probe has harmless arguments for.
func Probes() []string {
	names := make([]string, 0, len(probes))
	for name := range probes {
		names = append(names, name)
	}
	return names
}
