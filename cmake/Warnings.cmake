# The one list of compiler warnings (abseil keeps its copts in one place too).
set(CHURN_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wmissing-declarations
    -Wcast-qual -Wformat=2 -Wundef -Wvla)
if(CHURN_WERROR)
  list(APPEND CHURN_WARNINGS -Werror)
endif()
