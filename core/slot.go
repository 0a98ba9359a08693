package core

import (
	"slices"
	"strings"
)

// clusterSlots is the number of hash slots of Redis Cluster.
const clusterSlots = 16384

// Slot returns the Redis Cluster hash slot of key, honouring {hash tags}: a
// key containing "{x}" hashes only x, so keys sharing a tag share a slot.
func Slot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key) % clusterSlots)
}

// crc16 is CRC16-CCITT (XMODEM), the checksum Redis Cluster uses for slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}

// crc16Table holds the CRC of every byte value, polynomial 0x1021.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// groupBySlot splits keys into groups of at most max keys that each live in
// one slot, ordered by slot. On a standalone client it returns the keys in
// order, in chunks of at most max.
func (c *Client) groupBySlot(keys []string, max int) [][]string {
	if c.cluster == nil {
		var out [][]string
		for len(keys) > max {
			out = append(out, keys[:max:max])
			keys = keys[max:]
		}
		if len(keys) > 0 {
			out = append(out, keys)
		}
		return out
	}
	// Sort a copy of the keys by slot and cut runs of one slot, so the groups
	// share one backing array and need no map.
	type slotted struct {
		slot int
		key  string
	}
	sorted := make([]slotted, len(keys))
	for i, k := range keys {
		sorted[i] = slotted{Slot(k), k}
	}
	slices.SortStableFunc(sorted, func(a, b slotted) int { return a.slot - b.slot })
	flat := make([]string, len(keys))
	for i, sk := range sorted {
		flat[i] = sk.key
	}
	var out [][]string
	start := 0
	for i := 1; i <= len(sorted); i++ {
		if i == len(sorted) || sorted[i].slot != sorted[start].slot || i-start == max {
			out = append(out, flat[start:i:i])
			start = i
		}
	}
	return out
}
