// Package iosbridge will expose a gomobile-bindable node API and Swift
// models generated from assets/schema for the iOS app.
package iosbridge
