package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBannerPrintsTheTokenOnce(t *testing.T) {
	var out strings.Builder
	writeBanner(&out, banner{apiURL: "http://127.0.0.1:8080", uiURL: "http://127.0.0.1:8233", temporalAddr: "127.0.0.1:7233",
		lmsURL: "http://127.0.0.1:18000", dataDir: "./.fulfillment", token: "tok-3f9a"})
	require.Equal(t, 1, strings.Count(out.String(), "tok-3f9a"), out.String())
	require.Contains(t, out.String(), "export FULFILLMENT_API_TOKEN=tok-3f9a")
	require.Equal(t, 2, strings.Count(out.String(), `"Authorization: Bearer $FULFILLMENT_API_TOKEN"`))
	require.NotContains(t, sampleOrder, "'", "the sample order is printed inside single quotes")
}

func TestBannerLinksTheOperatorQueries(t *testing.T) {
	var out strings.Builder
	writeBanner(&out, banner{apiURL: "http://127.0.0.1:8080", uiURL: "http://127.0.0.1:8233", token: "t"})
	require.Contains(t, out.String(),
		"http://127.0.0.1:8233/namespaces/default/workflows?query=OrderStatus%3D%22fulfillment_error%22+OR+OrderStatus%3D%22revocation_error%22")
	require.Contains(t, out.String(), "query=FailedCourseIds%3D%22course-v1%3AedX%2BDemoX%2BDemo_Course%22")
	require.Contains(t, out.String(), `"Send an Update"`)
}
