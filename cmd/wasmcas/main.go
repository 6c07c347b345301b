package main
import (
 _ "github.com/spf13/cobra"
 _ "github.com/spf13/viper"
 _ "oras.land/oras-go/v2"
 _ "github.com/schollz/progressbar/v3"
 _ "go.bytecodealliance.org/wit"
 _ "github.com/distribution/distribution/v3/registry"
 _ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
 _ "github.com/opencontainers/image-spec/specs-go/v1"
 _ "golang.org/x/term"
)
func main(){}
