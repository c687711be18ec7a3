//go:build race

package main

// raceBuild says the race detector is on, which multiplies memory use.
const raceBuild = true
