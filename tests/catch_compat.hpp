// SPDX-License-Identifier: GPL-2.0-or-later
// Catch2 2.x (Debian 12) or 3.x (Debian 13 and later): the tests are written against what both provide.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
