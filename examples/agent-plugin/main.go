// Command echo-reverse is an example third-party planetary agent. It imports
// only the sdk package; see README.md.
package main

import "github.com/planetary/planetary/sdk"

func main() { sdk.Serve(func() sdk.Agent { return &reverser{} }) }
