package core

import "strings"

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
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// groupBySlot splits keys into groups that each live in one slot, in first-
// seen order. On a standalone client it returns chunks of at most max keys.
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
	index := make(map[int]int)
	var out [][]string
	for _, k := range keys {
		s := Slot(k)
		i, ok := index[s]
		if !ok || len(out[i]) >= max {
			i = len(out)
			index[s] = i
			out = append(out, make([]string, 0, 1))
		}
		out[i] = append(out[i], k)
	}
	return out
}
