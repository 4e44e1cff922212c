// The live view's page (src/cli/live_ui/), compiled in by
// cmake/embed_live_ui.cmake.
#ifndef BRAID_CLI_LIVE_UI_ASSETS_H_
#define BRAID_CLI_LIVE_UI_ASSETS_H_

#include <string_view>

namespace braid::cli::live_ui {

extern const std::string_view kIndexHtml;  // index.html
extern const std::string_view kLiveJs;     // live.js
extern const std::string_view kLiveCss;    // live.css

}  // namespace braid::cli::live_ui

#endif  // BRAID_CLI_LIVE_UI_ASSETS_H_
