package stack

import (
	"net"
	"net/http"
	"strconv"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/codec"
)

// codecSetup is the payload codec of a stack started with CodecKeys: the
// codec, and the loopback listener the Web UI decodes through.
type codecSetup struct {
	codec *codec.Codec
	// uiListener serves the codec to the Web UI; nil without a UI.
	uiListener net.Listener
	// uiOrigins are the Web UI's origins.
	uiOrigins []string
}

// startCodec reads cfg.CodecKeys and, when the stack runs a UI on uiPort,
// listens on loopback for the UI's codec endpoint. No keys, no codec.
//
// The Web UI calls its codec from the browser and, with no login in dev,
// has no access token to send: the UI's endpoint is a listener of its own,
// bound to 127.0.0.1 whatever cfg.IP says, that takes no token and answers
// browsers only from the UI's origin. It shows no more than the UI itself,
// which dev serves without a login too. The API's /codec/ (same codec)
// keeps requiring the API token.
func (s *Stack) startCodec(cfg Config, uiPort int) (*codecSetup, error) {
	if cfg.CodecKeys == "" {
		return nil, nil
	}
	c, err := codec.FromKeys(cfg.CodecKeys)
	if err != nil {
		return nil, err
	}
	cs := &codecSetup{codec: c}
	if uiPort <= 0 {
		return cs, nil
	}
	for _, host := range []string{cfg.IP, "127.0.0.1", "localhost"} {
		cs.uiOrigins = append(cs.uiOrigins, "http://"+net.JoinHostPort(host, strconv.Itoa(uiPort)))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.listeners = append(s.listeners, ln)
	cs.uiListener = ln
	s.CodecURL = "http://" + ln.Addr().String() + "/codec"
	return cs, nil
}

// serveUICodec serves the Web UI's codec endpoint once the stack runs.
func (s *Stack) serveUICodec(cs *codecSetup) error {
	if cs == nil || cs.uiListener == nil {
		return nil
	}
	h, err := api.CodecHandler(api.CodecConfig{Codec: cs.codec, AllowNoAuth: true, Origins: cs.uiOrigins})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(api.CodecPath, h)
	s.serve(cs.uiListener, mux)
	return nil
}

func (cs *codecSetup) get() *codec.Codec {
	if cs == nil {
		return nil
	}
	return cs.codec
}

func (cs *codecSetup) origins() []string {
	if cs == nil {
		return nil
	}
	return cs.uiOrigins
}
