package clientip_test

import (
	"fmt"
	"net/http"
	"net/netip"

	"github.com/rediskit/rediskit/clientip"
)

func Example() {
	// Behind a load balancer in 203.0.113.0/24 that appends to X-Forwarded-For.
	r, err := clientip.New(clientip.Options{
		TrustedProxies: clientip.MustParsePrefixes("203.0.113.0/24"),
	})
	if err != nil {
		panic(err)
	}

	// The client forged "192.0.2.66"; the load balancer appended the address it saw.
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "203.0.113.10:4242"
	req.Header.Set("X-Forwarded-For", "192.0.2.66, 198.51.100.7")
	ip, _ := r.ClientIP(req)
	fmt.Println(ip)

	// The same header sent directly, not through the load balancer, is ignored.
	req.RemoteAddr = "198.51.100.99:5555"
	ip, _ = r.ClientIP(req)
	fmt.Println(ip)
	// Output:
	// 198.51.100.7
	// 198.51.100.99
}

func ExampleResolver_Key() {
	r, _ := clientip.New(clientip.Options{TrustedProxies: clientip.MustParsePrefixes("127.0.0.1", "::1")})

	for _, xff := range []string{"198.51.100.7", "2001:db8:1:2::7", "2001:db8:1:2::8", "::ffff:198.51.100.7"} {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "[::1]:8080"
		req.Header.Set("X-Forwarded-For", xff)
		key, _ := r.Key(req) // a rate-limit bucket or visitor id
		fmt.Println(key)
	}
	// Output:
	// 198.51.100.7
	// 2001:db8:1:2::/64
	// 2001:db8:1:2::/64
	// 198.51.100.7
}

func ExampleNew_forwarded() {
	r, _ := clientip.New(clientip.Options{
		TrustedProxies: clientip.MustParsePrefixes("203.0.113.0/24"),
		Header:         "Forwarded",
	})
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "203.0.113.2:4242"
	req.Header.Set("Forwarded", `for="[2001:db8:1:2::7]:4711";proto=https, for=203.0.113.1`)
	ip, _ := r.ClientIP(req)
	fmt.Println(ip)
	// Output:
	// 2001:db8:1:2::7
}

func ExampleGroupKey() {
	for _, s := range []string{"192.0.2.1", "::ffff:192.0.2.1", "2001:db8:1:2:3:4:5:6"} {
		fmt.Println(clientip.GroupKey(netip.MustParseAddr(s)))
	}
	// Output:
	// 192.0.2.1
	// 192.0.2.1
	// 2001:db8:1:2::/64
}

func ExampleParsePrefixes() {
	proxies, err := clientip.ParsePrefixes("203.0.113.0/24", "2001:db8::1", "198.51.100.0/33")
	fmt.Println(proxies, err)
	proxies, err = clientip.ParsePrefixes("203.0.113.0/24", "2001:db8::1")
	fmt.Println(proxies, err)
	// Output:
	// [] clientip: trusted proxy "198.51.100.0/33" is not an IP address or CIDR prefix
	// [203.0.113.0/24 2001:db8::1/128] <nil>
}
