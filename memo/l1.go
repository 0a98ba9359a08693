package memo

// maxDecoded bounds the decoded twins kept beside the client-side cache.
const maxDecoded = 10_000

// decoded is an entry's bytes as last read and their decoding.
type decoded[V any] struct {
	raw string
	env *envelope[V]
}

// l1Decoded returns the envelope decoded earlier from exactly these bytes.
// With L1 on, go-redis answers warm hits from memory; keeping the decoded
// twin of those bytes saves decoding them again on every hit.
func (f *Func[K, V]) l1Decoded(key, data string) *envelope[V] {
	if !f.l1 {
		return nil
	}
	if d, ok := f.decoded.Load(key); ok && d.(*decoded[V]).raw == data {
		return d.(*decoded[V]).env
	}
	return nil
}

func (f *Func[K, V]) l1Store(key, data string, e *envelope[V]) {
	if !f.l1 {
		return
	}
	if _, loaded := f.decoded.Swap(key, &decoded[V]{raw: data, env: e}); !loaded && f.decodedN.Add(1) > maxDecoded {
		f.decoded.Clear() // crude but bounded; the hot keys come back at once
		f.decodedN.Store(0)
	}
}
