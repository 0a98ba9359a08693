package core

// UseScriptWindow makes c use the pre-Redis-7 Lua form of IncrementWindow,
// so tests cover it on any server.
func UseScriptWindow(c *Client) { c.ttlMode.Store(ttlModeLua) }
