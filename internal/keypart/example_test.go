package keypart_test

import (
	"fmt"

	"github.com/rediskit/rediskit/internal/keypart"
)

func ExampleEncode() {
	fmt.Println(keypart.Encode("user-42", 64))
	fmt.Println(keypart.Encode("{evil}", 64))
	// Output:
	// user-42
	// #cc38712445ffda27d522d70d11ed9fc9
}
