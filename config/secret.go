package config

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecret reads a token or secret file ([server] token_file, peer_secret_file, a CLI
// -token-file): its content, trimmed. An empty file is an error, so a secret is never "".
func ReadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}
