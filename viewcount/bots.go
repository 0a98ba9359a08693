package viewcount

import "strings"

// DefaultBotPatterns are lower-case substrings of the User-Agent of
// well-known crawlers, link previewers and HTTP tools.
var DefaultBotPatterns = []string{
	"bot", "crawler", "spider", "slurp", "crawl",
	"facebookexternalhit", "embedly", "quora link preview", "whatsapp",
	"curl/", "wget/", "python-requests", "python-urllib", "go-http-client", "headlesschrome",
	"lighthouse", "pingdom", "uptimerobot",
}

// BotClassifier reports whether a User-Agent belongs to a bot.
type BotClassifier func(userAgent string) bool

// NewBotClassifier returns a classifier that matches a User-Agent holding
// any of patterns, case-insensitively. Empty patterns are ignored; with none
// left it matches nothing, and an empty User-Agent is never a bot. The
// Tracker's default is NewBotClassifier(DefaultBotPatterns).
func NewBotClassifier(patterns []string) BotClassifier {
	ps := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			ps = append(ps, p)
		}
	}
	return func(ua string) bool {
		ua = strings.ToLower(ua)
		for _, p := range ps {
			if strings.Contains(ua, p) {
				return true
			}
		}
		return false
	}
}
