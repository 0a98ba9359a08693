package memo

// ReadsInFlight returns how many keys have a shared GET in flight, so that
// tests can wait for one instead of sleeping.
func ReadsInFlight[K comparable, V any](f *Func[K, V]) int {
	f.readsMu.Lock()
	defer f.readsMu.Unlock()
	n := 0
	for _, fl := range f.reads {
		if fl != nil {
			n++
		}
	}
	return n
}
