// Group coordinator tests land here (next commit).
#include <gtest/gtest.h>
