// Command hello-go is a small WASI program that scripts/build-testdata.sh
// compiles for GOOS=wasip1 and wraps into a WASI command component. The map
// of greetings gives the core module string data in its data segments.
//
// It uses package syscall instead of os or fmt because each of those adds
// 300 KB or more to a module whose Go runtime alone is about 1.8 MB.
package main

import "syscall"

var greetings = map[string]string{
	"de": "Hallo",
	"en": "Hello",
	"es": "Hola",
	"fr": "Bonjour",
	"it": "Ciao",
}

func main() {
	language, ok := syscall.Getenv("HELLO_LANGUAGE")
	if !ok {
		language = "en"
	}

	greeting, ok := greetings[language]
	if !ok {
		message := "hello-go: invalid HELLO_LANGUAGE \"" + language + "\": use de, en, es, fr or it\n"
		syscall.Write(2, []byte(message))
		syscall.Exit(2)
	}

	syscall.Write(1, []byte(greeting+" from wasmcas!\n"))
}
