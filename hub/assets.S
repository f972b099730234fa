/* assets.S - links the SRE web page (hub/web/) into plumb-hub as read-only
 * data, so the hub serves every byte of its page itself. */
	.section .rodata
	.balign 16
	.global hub_asset_index_html, hub_asset_index_html_end
hub_asset_index_html:
	.incbin "hub/web/index.html"
hub_asset_index_html_end:
	.byte 0
	.balign 16
	.global hub_asset_app_js, hub_asset_app_js_end
hub_asset_app_js:
	.incbin "hub/web/app.js"
hub_asset_app_js_end:
	.byte 0
	.balign 16
	.global hub_asset_app_css, hub_asset_app_css_end
hub_asset_app_css:
	.incbin "hub/web/app.css"
hub_asset_app_css_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
